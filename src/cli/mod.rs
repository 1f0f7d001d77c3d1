//! Command-line parsing: the flag table ([`defs`]), a popt-compatible lexer ([`lex`]) and the
//! resolved [`options::Options`]. Only this module knows about argv.

pub mod defs;
pub mod doc;
pub mod help;
pub mod lex;
mod maps;
pub mod options;

pub use options::Options;
