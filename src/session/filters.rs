//! The filter rules as the roles use them: parsed once from the options / the `Filters` message,
//! consulted by the walker (sender side) and by deletions (receiver side).

use crate::error::Result;

#[derive(Clone, Debug, Default)]
pub struct Filters {
    rules: Vec<String>,
}

impl Filters {
    pub fn from_rules(rules: &[String]) -> Result<Filters> {
        Ok(Filters {
            rules: rules.to_vec(),
        })
    }
    pub fn to_wire(&self) -> Vec<u8> {
        self.rules.join("\n").into_bytes()
    }
    pub fn from_wire(b: &[u8]) -> Result<Filters> {
        let s = String::from_utf8_lossy(b);
        Ok(Filters {
            rules: s
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
    /// Sender side: is `name` (relative to the transfer root) excluded?
    pub fn excluded(&mut self, _name: &[u8], _is_dir: bool) -> bool {
        false
    }
    /// Receiver side: is `name` protected from deletion?
    pub fn protected(&mut self, _name: &[u8], _is_dir: bool) -> bool {
        false
    }
}
