//! The mapping type of the document tree: ordered, and backed by a vector.
//!
//! Compose mappings are small (a service has a dozen attributes, an environment a few dozen
//! names), so a linear scan beats hashing, and one allocation per mapping instead of two makes
//! building, rewriting and dropping a large tree markedly cheaper. Keys keep their file order.

use std::collections::HashMap;

use super::Node;

#[derive(Debug, Clone, Default)]
pub struct Map {
    entries: Vec<(String, Node)>,
    /// Key to position, kept only for large mappings (`services` of a big project), where a
    /// linear scan per insert would make building the map quadratic.
    index: Option<HashMap<String, usize>>,
}

/// Past this many entries, lookups go through a hash index.
const INDEXED: usize = 32;

impl PartialEq for Map {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Map {
    pub fn new() -> Self {
        Map { entries: Vec::new(), index: None }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    fn push(&mut self, key: String, value: Node) {
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.entries.len());
        } else if self.entries.len() >= INDEXED {
            self.rebuild_index();
            return self.push(key, value);
        }
        self.entries.push((key, value));
    }

    fn rebuild_index(&mut self) {
        self.index = (self.entries.len() >= INDEXED)
            .then(|| self.entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key`, in place if it exists (keeping its position), else at the end.
    pub fn insert(&mut self, key: String, value: Node) -> Option<Node> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.push(key, value);
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn shift_remove(&mut self, key: &str) -> Option<Node> {
        let i = self.position(key)?;
        let (_, value) = self.entries.remove(i);
        if self.index.is_some() {
            self.rebuild_index();
        }
        Some(value)
    }

    /// The value of `key`, inserted with `make` first if missing.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> Node) -> &mut Node {
        let i = match self.position(key) {
            Some(i) => i,
            None => {
                self.push(key.to_string(), make());
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &mut Node) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
        if self.index.is_some() {
            self.rebuild_index();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Node)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Node> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl IntoIterator for Map {
    type Item = (String, Node);
    type IntoIter = std::vec::IntoIter<(String, Node)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Node);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (String, Node)>, fn(&'a (String, Node)) -> (&'a String, &'a Node)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl FromIterator<(String, Node)> for Map {
    /// Later duplicates replace earlier ones, as in a hash map.
    fn from_iter<I: IntoIterator<Item = (String, Node)>>(iter: I) -> Self {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_maps_stay_consistent_through_removals() {
        let mut m = Map::new();
        for i in 0..100 {
            m.insert(format!("k{i}"), Node::plain(i.to_string(), Default::default()));
        }
        assert_eq!(m.get("k77").and_then(Node::as_text), Some("77"));
        m.shift_remove("k10");
        m.retain(|k, _| k != "k20");
        assert_eq!(m.len(), 98);
        assert!(m.get("k10").is_none() && m.get("k20").is_none());
        assert_eq!(m.get("k99").and_then(Node::as_text), Some("99"));
        m.insert("k5".into(), Node::plain("five", Default::default()));
        assert_eq!(m.keys().nth(5).map(String::as_str), Some("k5"));
        assert_eq!(m.len(), 98);
    }
}
