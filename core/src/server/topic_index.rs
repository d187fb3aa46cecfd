//! A subscription index: topic filters in a trie by level, so finding the subscriptions a topic matches costs
//! the topic's depth (and the wildcard branches on the way) instead of a pass over every subscription.
//!
//! The index answers exactly what [`filter_matches`](super::topic::filter_matches) answers for each filter it
//! holds (`+` one level, a trailing `#` the parent level and everything below, no first-level wildcard for
//! `$` topics), in the order the entries' keys sort in.

use std::collections::HashMap;

#[derive(Debug, Default)]
struct Node {
    /// Children by literal level.
    exact: HashMap<Box<str>, Node>,
    /// The `+` child.
    plus: Option<Box<Node>>,
    /// Keys of the filters that end at this node.
    here: Vec<u64>,
    /// Keys of the filters that end with `/#` below this node (or are `#`, at the root).
    hash: Vec<u64>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.plus.is_none() && self.here.is_empty() && self.hash.is_empty()
    }

    /// The key list a filter's levels lead to, creating nodes on the way.
    fn slot(&mut self, filter: &str) -> &mut Vec<u64> {
        let mut node = self;
        for level in filter.split('/') {
            node = match level {
                "#" => return &mut node.hash,
                "+" => node.plus.get_or_insert_with(Box::default),
                l => node.exact.entry(l.into()).or_default(),
            };
        }
        &mut node.here
    }

    /// Removes `key` from the list `levels` leads to and prunes emptied nodes; true when found.
    fn remove(&mut self, levels: &[&str], key: u64) -> bool {
        let Some((first, rest)) = levels.split_first() else {
            return take(&mut self.here, key);
        };
        match *first {
            "#" => take(&mut self.hash, key),
            "+" => {
                let Some(child) = self.plus.as_deref_mut() else {
                    return false;
                };
                let found = child.remove(rest, key);
                if child.is_empty() {
                    self.plus = None;
                }
                found
            }
            l => {
                let Some(child) = self.exact.get_mut(l) else {
                    return false;
                };
                let found = child.remove(rest, key);
                if child.is_empty() {
                    self.exact.remove(l);
                }
                found
            }
        }
    }

    fn collect(&self, levels: &[&str], dollar_root: bool, out: &mut Vec<u64>) {
        // A trailing `#` matches the parent level too ("a/#" matches "a"); first-level wildcards skip `$` topics.
        if !dollar_root {
            out.extend_from_slice(&self.hash);
        }
        let Some((first, rest)) = levels.split_first() else {
            out.extend_from_slice(&self.here);
            return;
        };
        if let Some(child) = self.exact.get(*first) {
            child.collect(rest, false, out);
        }
        if !dollar_root {
            if let Some(child) = &self.plus {
                child.collect(rest, false, out);
            }
        }
    }
}

fn take(keys: &mut Vec<u64>, key: u64) -> bool {
    match keys.iter().position(|k| *k == key) {
        Some(i) => {
            keys.swap_remove(i);
            true
        }
        None => false,
    }
}

/// Values stored under topic filters, each with a caller-chosen key (a subscription id, say).
#[derive(Debug)]
pub struct TopicIndex<T> {
    root: Node,
    entries: HashMap<u64, (Box<str>, T)>,
}

impl<T> Default for TopicIndex<T> {
    fn default() -> Self {
        TopicIndex {
            root: Node::default(),
            entries: HashMap::new(),
        }
    }
}

impl<T> TopicIndex<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` under `filter` with `key`, replacing (and returning) what `key` held before.
    pub fn insert(&mut self, key: u64, filter: &str, value: T) -> Option<T> {
        let old = self.remove(key);
        self.root.slot(filter).push(key);
        self.entries.insert(key, (filter.into(), value));
        old
    }

    /// Removes the entry with `key`.
    pub fn remove(&mut self, key: u64) -> Option<T> {
        let (filter, value) = self.entries.remove(&key)?;
        let levels: Vec<&str> = filter.split('/').collect();
        let found = self.root.remove(&levels, key);
        debug_assert!(found, "an entry is always in the trie");
        Some(value)
    }

    /// Keeps only the entries for which `keep(key, filter, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &str, &T) -> bool) {
        let gone: Vec<u64> = self
            .entries
            .iter()
            .filter(|(k, (f, v))| !keep(**k, f, v))
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            self.remove(k);
        }
    }

    /// Keys of the entries stored under exactly `filter`, in key order.
    pub fn keys_of_filter(&self, filter: &str) -> Vec<u64> {
        let mut node = &self.root;
        let mut slot: &[u64] = &[];
        let mut levels = filter.split('/');
        loop {
            let Some(level) = levels.next() else {
                slot = &node.here;
                break;
            };
            let next = match level {
                "#" => {
                    slot = &node.hash;
                    break;
                }
                "+" => node.plus.as_deref(),
                l => node.exact.get(l),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        let mut keys: Vec<u64> = slot
            .iter()
            .copied()
            .filter(|k| self.entries.get(k).is_some_and(|(f, _)| &**f == filter))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// The entries whose filter matches the topic `name`, as `(key, filter, value)` in key order.
    pub fn matches<'a>(&'a self, name: &str) -> Vec<(u64, &'a str, &'a T)> {
        let levels: Vec<&str> = name.split('/').collect();
        let mut keys = Vec::new();
        self.root.collect(&levels, name.starts_with('$'), &mut keys);
        keys.sort_unstable();
        keys.into_iter()
            .filter_map(|k| self.entries.get(&k).map(|(f, v)| (k, &**f, v)))
            .collect()
    }

    pub fn get(&self, key: u64) -> Option<(&str, &T)> {
        self.entries.get(&key).map(|(f, v)| (&**f, v))
    }

    /// Every entry as `(key, filter, value)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &str, &T)> {
        self.entries.iter().map(|(k, (f, v))| (*k, &**f, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
