//! Registered components, their IPC auth tokens (SVCUID) and their policies.

use super::policy::AccessControl;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One registered component.
#[derive(Debug)]
pub struct Component {
    pub name: String,
    pub svcuid: String,
    pub access: AccessControl,
}

/// Component name → component, plus token lookup. Policies can be replaced live; a connection reads the
/// current policies on every request.
#[derive(Debug, Default)]
pub struct ComponentRegistry {
    by_name: RwLock<HashMap<String, Arc<Component>>>,
}

/// A new SVCUID as the nucleus makes them: 16 characters, each `random_byte & 31` into
/// `abcdefghjklmnpqrstuvwxyz0123456789`, upper-cased.
pub fn generate_svcuid() -> String {
    const ALPHABET: &[u8] = b"abcdefghjklmnpqrstuvwxyz0123456789";
    let mut bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut bytes);
    bytes
        .iter()
        .map(|b| (ALPHABET[(b & 31) as usize] as char).to_ascii_uppercase())
        .collect()
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ComponentRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or re-registers) a component with a freshly generated token; returns the token.
    pub fn register(&self, name: &str, access: AccessControl) -> String {
        self.register_with_token(name, access, generate_svcuid())
    }

    /// Registers a component with a given token (tests, fixed deployments). Replaces an earlier registration
    /// of the same name, whose token stops working.
    pub fn register_with_token(&self, name: &str, access: AccessControl, token: String) -> String {
        let c = Arc::new(Component {
            name: name.to_string(),
            svcuid: token.clone(),
            access,
        });
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), c);
        token
    }

    /// Replaces a component's policies; returns false if it is not registered.
    pub fn update_policies(&self, name: &str, access: AccessControl) -> bool {
        let mut map = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        match map.get(name) {
            Some(old) => {
                let c = Arc::new(Component {
                    name: old.name.clone(),
                    svcuid: old.svcuid.clone(),
                    access,
                });
                map.insert(name.to_string(), c);
                true
            }
            None => false,
        }
    }

    /// Removes a component; its token stops working for new connections and its open connections lose
    /// every permission.
    pub fn unregister(&self, name: &str) -> bool {
        self.by_name
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
            .is_some()
    }

    /// The component a token belongs to. Every registered token is compared, in constant time each.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Component>> {
        if token.is_empty() {
            return None;
        }
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        for c in map.values() {
            if constant_time_eq(c.svcuid.as_bytes(), token.as_bytes()) {
                found = Some(c.clone());
            }
        }
        found
    }

    /// The current registration of a component.
    pub fn get(&self, name: &str) -> Option<Arc<Component>> {
        self.by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every registered component.
    pub fn list(&self) -> Vec<Arc<Component>> {
        let mut v: Vec<_> = self
            .by_name
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svcuid_format() {
        for _ in 0..100 {
            let t = generate_svcuid();
            assert_eq!(t.len(), 16);
            assert!(
                t.chars()
                    .all(|c| "ABCDEFGHJKLMNPQRSTUVWXYZ01234567".contains(c)),
                "{t}"
            );
        }
        assert_ne!(generate_svcuid(), generate_svcuid());
    }

    #[test]
    fn tokens() {
        let r = ComponentRegistry::new();
        let t1 = r.register("a", AccessControl::default());
        assert_eq!(r.authenticate(&t1).unwrap().name, "a");
        assert!(r.authenticate("").is_none());
        assert!(r.authenticate(&t1[..15]).is_none());
        let t2 = r.register("a", AccessControl::default());
        assert!(r.authenticate(&t1).is_none());
        assert!(r.authenticate(&t2).is_some());
        assert!(r.update_policies("a", AccessControl::allow_all_mqtt()));
        assert_eq!(r.get("a").unwrap().svcuid, t2);
        assert!(r.unregister("a"));
        assert!(r.authenticate(&t2).is_none());
    }
}
