//! A small, fast, non-cryptographic hasher (the "Fx" hash of rustc) for the
//! in-memory maps of the graph and the checker, whose keys come from the
//! user's own files: hash flooding is not a concern, speed is.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher.
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The state turned so that its best-mixed bits come low: a multiply
    /// carries every input bit upwards only, so the low bits of the state
    /// depend on the low bits of the last words alone, and the hash table
    /// picks buckets by the low bits. Without the turn, `r00001`..`r09999`
    /// fell into about a thousand buckets of sixteen thousand.
    #[inline]
    fn finish(&self) -> u64 {
        self.hash.rotate_left(26)
    }
}

/// `HashMap<K, V, FxBuild>`.
pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn different_keys_hash_differently() {
        let b = FxBuild::default();
        let h = |s: &str| b.hash_one(s);
        assert_ne!(h("role.a"), h("role.b"));
        assert_ne!(h("abcdefgh1"), h("abcdefgh2"));
        let mut m: FxHashMap<String, u32> = FxHashMap::default();
        m.insert("x".into(), 1);
        assert_eq!(m.get("x"), Some(&1));
    }

    /// Keys that differ only in their last characters, as generated block
    /// names and `for_each` keys do, spread over a table's buckets (chosen
    /// by the low bits) about as well as random ones would.
    #[test]
    fn similar_keys_spread_over_the_low_bits() {
        use crate::address::Address;
        use crate::Kind;
        let b = FxBuild::default();
        let spread = |hashes: Vec<u64>| {
            let mask = (1u64 << 14) - 1;
            hashes
                .iter()
                .map(|h| h & mask)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let blocks = (0..10_000)
            .map(|i| b.hash_one(Address::resource(Kind::Role, format!("r{i:05}"))))
            .collect();
        let keys = (0..10_000)
            .map(|i| {
                let mut a = Address::resource(Kind::Role, "r");
                a.key = Some(format!("{i:05}"));
                b.hash_one(a)
            })
            .collect();
        // 10,000 random values in 16,384 buckets take about 7,400.
        assert!(spread(blocks) > 6_500);
        assert!(spread(keys) > 6_500);
    }
}
