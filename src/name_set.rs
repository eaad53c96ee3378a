//! Sets of container names, for the checks that look a name up per
//! container.
//!
//! Most pods have a handful of containers, and comparing a few names costs
//! less than hashing one with SipHash; past a few, the set hashes, so that
//! pods with hundreds of containers stay linear.

use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct NameSet<'a> {
    /// The first names, up to [`NameSet::FEW`].
    few: Vec<&'a str>,
    /// Every name, once there are more than [`NameSet::FEW`]; empty before.
    many: HashSet<&'a str>,
}

impl<'a> NameSet<'a> {
    /// How many names are compared in turn before the set hashes them.
    pub const FEW: usize = 16;

    /// Adds `name`; whether it is new.
    pub fn insert(&mut self, name: &'a str) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&name) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(name);
                return true;
            }
            self.many.extend(self.few.iter().copied());
        }
        self.many.insert(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        if self.many.is_empty() {
            self.few.contains(&name)
        } else {
            self.many.contains(name)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.few.is_empty()
    }
}

impl<'a> FromIterator<&'a str> for NameSet<'a> {
    fn from_iter<I: IntoIterator<Item = &'a str>>(names: I) -> Self {
        let mut set = NameSet::default();
        for name in names {
            set.insert(name);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::a_few(3)]
    #[case::as_many_as_are_compared_in_turn(NameSet::FEW)]
    #[case::one_more(NameSet::FEW + 1)]
    #[case::many(5 * NameSet::FEW)]
    fn names_are_found_once_however_many(#[case] count: usize) {
        let names: Vec<String> = (0..count).map(|i| format!("c{i}")).collect();
        let mut set = NameSet::default();
        assert!(set.is_empty());
        for name in &names {
            assert!(set.insert(name), "{name} is new");
        }
        for name in &names {
            assert!(!set.insert(name), "{name} is not new");
            assert!(set.contains(name), "{name} is there");
        }
        assert!(!set.contains("absent"));
        assert!(!set.is_empty());
        let collected: NameSet = names.iter().map(String::as_str).collect();
        assert!(names.iter().all(|name| collected.contains(name)));
        assert!(!collected.contains("absent"));
    }
}
