//! parasync's own wire protocol (design.md §2): a magic + version + capability handshake, then
//! length-prefixed typed frames in each direction. Every decoder is total — malformed input gives an
//! error (exit 12, "error in rsync protocol data stream"), never a panic or an allocation sized by an
//! untrusted length field beyond [`MAX_FRAME`].

pub mod codec;
pub mod frame;
pub mod handshake;
pub mod msg;

pub use frame::{FrameReader, FrameWriter};
pub use handshake::{handshake, Caps};
pub use msg::Msg;

/// Version of this protocol. Bump on any incompatible change; peers pick the highest common one.
/// 2: `Msg::Append` and the file-list extension (atime, xattrs/ACLs), both only sent when
/// `--append`, `-U`, `-X` or `-A` is in use, which a version-1 peer refuses at option parsing, so
/// version 1 is still spoken.
/// 3: `Msg::IoError`, the sender's word that its file list is incomplete from here on (rsync's
/// io_error sent with each list segment), so deletions stop before the directories it could not
/// read; older peers get only the flag at the end of the list, as before.
/// 4: the names of the users and groups an entry's ACLs name (`-A`), so the receiver maps those
/// ids by name as it maps owners; older peers get the ACLs with their ids as before.
/// 5: `Msg::Tally`, the receiver's "files done" point where the sender prints its `-vv` totals
/// (before `--delete-after`'s deletions, as rsync); with older peers the client prints them last.
pub const PROTOCOL_VERSION: u32 = 5;
/// Oldest version this build still speaks.
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// First bytes on the stream in each direction.
pub const MAGIC: &[u8; 8] = b"PARASYNC";
/// Hard limit for one frame's payload.
pub const MAX_FRAME: usize = 16 << 20;
