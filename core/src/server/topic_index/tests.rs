#![allow(clippy::unwrap_used)]

use super::TopicIndex;
use crate::server::topic::filter_matches;
use proptest::prelude::*;

/// What the index must answer: a pass over every entry with `filter_matches`, in key order.
fn linear<'a>(entries: &'a [(u64, String)], name: &str) -> Vec<(u64, &'a str)> {
    let mut v: Vec<(u64, &str)> = entries
        .iter()
        .filter(|(_, f)| filter_matches(f, name))
        .map(|(k, f)| (*k, f.as_str()))
        .collect();
    v.sort();
    v
}

fn found(index: &TopicIndex<()>, name: &str) -> Vec<(u64, String)> {
    index
        .matches(name)
        .into_iter()
        .map(|(k, f, _)| (k, f.to_string()))
        .collect()
}

fn build(filters: &[&str]) -> TopicIndex<()> {
    let mut index = TopicIndex::new();
    for (i, f) in filters.iter().enumerate() {
        index.insert(i as u64, f, ());
    }
    index
}

fn keys(index: &TopicIndex<()>, name: &str) -> Vec<u64> {
    index.matches(name).into_iter().map(|(k, _, _)| k).collect()
}

#[test]
fn wildcards_match_as_mqtt_says() {
    let index = build(&[
        "a/b", "a/+", "a/#", "#", "+/b", "+", "a/+/c", "a//b", "a/+/#",
    ]);
    // `a/+/#` matches `a/b`: `#` takes the parent level too
    assert_eq!(keys(&index, "a/b"), vec![0, 1, 2, 3, 4, 8]);
    // `a/#` matches its parent level; `a/+/#` needs a second level.
    assert_eq!(keys(&index, "a"), vec![2, 3, 5]);
    assert_eq!(keys(&index, "a/x/c"), vec![2, 3, 6, 8]);
    // empty levels are levels
    assert_eq!(keys(&index, "a//b"), vec![2, 3, 7, 8]);
    assert_eq!(keys(&index, "a/"), vec![1, 2, 3, 8]);
    assert_eq!(keys(&index, "b"), vec![3, 5]);
}

#[test]
fn dollar_topics_skip_first_level_wildcards_only() {
    let index = build(&[
        "#",
        "+/x",
        "$SYS/#",
        "$SYS/+",
        "+",
        "$aws/things/t/shadow/update",
    ]);
    assert_eq!(keys(&index, "$SYS/x"), vec![2, 3]);
    assert_eq!(keys(&index, "$SYS"), vec![2]);
    assert_eq!(keys(&index, "$aws/things/t/shadow/update"), vec![5]);
    assert_eq!(keys(&index, "x/x"), vec![0, 1]);
    // `$` elsewhere than at the start is an ordinary character
    assert_eq!(keys(&index, "a$"), vec![0, 4]);
}

#[test]
fn insert_replaces_and_remove_prunes() {
    let mut index = TopicIndex::new();
    assert!(index.insert(1, "a/b", "one").is_none());
    assert_eq!(index.insert(1, "a/+", "two"), Some("one"));
    assert_eq!(index.len(), 1);
    assert_eq!(index.get(1), Some(("a/+", &"two")));
    assert_eq!(index.matches("a/c").len(), 1);
    assert_eq!(index.remove(1), Some("two"));
    assert_eq!(index.remove(1), None);
    assert!(index.is_empty());
    assert!(index.root.is_empty(), "emptied nodes are pruned");
}

#[test]
fn same_filter_many_keys() {
    let mut index = TopicIndex::new();
    for k in [5, 3, 9] {
        index.insert(k, "t/#", k);
    }
    index.insert(4, "t/+", 4);
    assert_eq!(index.keys_of_filter("t/#"), vec![3, 5, 9]);
    assert_eq!(index.keys_of_filter("t/+"), vec![4]);
    assert_eq!(index.keys_of_filter("t"), Vec::<u64>::new());
    assert_eq!(index.keys_of_filter("u/#"), Vec::<u64>::new());
    index.retain(|k, _, _| k != 5);
    assert_eq!(index.keys_of_filter("t/#"), vec![3, 9]);
    let all: Vec<u64> = index
        .matches("t/x")
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    assert_eq!(all, vec![3, 4, 9]);
}

fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("".to_string()),
        Just("$a".to_string()),
        Just("$SYS".to_string()),
        Just("+".to_string()),
        Just("#".to_string()),
        Just("a+".to_string()),
        Just("#b".to_string()),
    ]
}

fn text(levels: Vec<String>) -> String {
    levels.join("/")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The index answers what a linear scan with `filter_matches` answers, for any mix of filters (valid or
    /// not: `#` in the middle, partial-level wildcards) and topics, before and after removals.
    #[test]
    fn index_equals_linear_scan(
        filters in proptest::collection::vec(proptest::collection::vec(level(), 1..5).prop_map(text), 0..24),
        names in proptest::collection::vec(proptest::collection::vec(level(), 1..5).prop_map(text), 1..12),
        removed in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut entries: Vec<(u64, String)> =
            filters.iter().enumerate().map(|(i, f)| (i as u64 * 7 % 31, f.clone())).collect();
        entries.sort();
        entries.dedup_by_key(|e| e.0);
        let mut index = TopicIndex::new();
        for (k, f) in &entries {
            index.insert(*k, f, ());
        }
        for name in &names {
            let want: Vec<(u64, String)> =
                linear(&entries, name).into_iter().map(|(k, f)| (k, f.to_string())).collect();
            prop_assert_eq!(found(&index, name), want);
        }
        for r in removed {
            if entries.is_empty() {
                break;
            }
            let (k, _) = entries.remove(r.index(entries.len()));
            prop_assert!(index.remove(k).is_some());
        }
        prop_assert_eq!(index.len(), entries.len());
        for name in &names {
            let want: Vec<(u64, String)> =
                linear(&entries, name).into_iter().map(|(k, f)| (k, f.to_string())).collect();
            prop_assert_eq!(found(&index, name), want);
        }
        for (k, f) in &entries {
            prop_assert!(index.keys_of_filter(f).contains(k));
        }
        for (k, _) in entries.clone() {
            index.remove(k);
        }
        prop_assert!(index.root.is_empty());
    }
}
