//! Command-line parsing: the flag table ([`defs`]), a popt-compatible lexer ([`lex`]) and the
//! resolved [`options::Options`]. Only this module knows about argv.

pub mod defs;
pub mod doc;
pub mod help;
pub mod levels;
pub mod lex;
mod maps;
pub mod options;
pub mod values;

pub use options::Options;
