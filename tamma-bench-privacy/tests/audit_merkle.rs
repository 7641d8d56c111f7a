//! The RFC 6962 Merkle tree against the Certificate Transparency test vectors.
//!
//! `vectors/rfc6962.json` is produced by `vectors/rfc6962.py`, an independent Python
//! implementation that checks its tree heads against the published CT values; the
//! proofs quoted in the tests below are the ones published with the CT reference
//! implementations (certificate-transparency-go `merkle` tests).

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use serde::Deserialize;
use tamma_bench_privacy::audit::Hash;
use tamma_bench_privacy::audit::merkle::{
    Frontier, consistency_proof, empty_root, inclusion_proof, leaf_hash, root, verify_consistency,
    verify_inclusion,
};

#[derive(Deserialize)]
struct Vectors {
    leaves: Vec<String>,
    roots: Vec<String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
}

#[derive(Deserialize)]
struct Inclusion {
    index: u64,
    size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Consistency {
    size1: u64,
    size2: u64,
    proof: Vec<String>,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("vectors/rfc6962.json")).expect("vectors parse")
}

fn h(s: &str) -> Hash {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(hex::encode).collect()
}

fn ct_leaves() -> Vec<Hash> {
    vectors()
        .leaves
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).expect("hex")))
        .collect()
}

#[test]
fn tree_heads_match_rfc6962_for_sizes_0_to_8() {
    let v = vectors();
    let leaves = ct_leaves();
    assert_eq!(hex::encode(empty_root()), v.roots[0]);
    let mut frontier = Frontier::new();
    for n in 1..=leaves.len() {
        assert_eq!(hex::encode(root(&leaves[..n])), v.roots[n], "size {n}");
        frontier.push(leaves[n - 1]);
        assert_eq!(
            hex::encode(frontier.root()),
            v.roots[n],
            "frontier, size {n}"
        );
    }
    assert_eq!(
        v.roots[8],
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
}

#[test]
fn inclusion_proofs_match_the_published_ones() {
    let leaves = ct_leaves();
    let published: &[(u64, usize, &[&str])] = &[
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for &(index, size, proof) in published {
        let got = inclusion_proof(index, &leaves[..size]).expect("proof");
        assert_eq!(hexes(&got), proof, "leaf {index} of {size}");
    }
}

#[test]
fn consistency_proofs_match_the_published_ones() {
    let leaves = ct_leaves();
    let published: &[(u64, usize, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for &(m, n, proof) in published {
        let got = consistency_proof(m, &leaves[..n]).expect("proof");
        assert_eq!(hexes(&got), proof, "{m} -> {n}");
    }
}

#[test]
fn every_vector_proof_is_generated_and_verifies() {
    let v = vectors();
    let leaves = ct_leaves();
    for p in &v.inclusion {
        let size = p.size as usize;
        let got = inclusion_proof(p.index, &leaves[..size]).expect("proof");
        assert_eq!(hexes(&got), p.proof, "leaf {} of {}", p.index, p.size);
        let proof: Vec<Hash> = p.proof.iter().map(|s| h(s)).collect();
        let r = h(&v.roots[size]);
        verify_inclusion(p.index, p.size, &leaves[p.index as usize], &proof, &r).expect("verifies");
    }
    for p in &v.consistency {
        let got = consistency_proof(p.size1, &leaves[..p.size2 as usize]).expect("proof");
        assert_eq!(hexes(&got), p.proof, "{} -> {}", p.size1, p.size2);
        let proof: Vec<Hash> = p.proof.iter().map(|s| h(s)).collect();
        let (r1, r2) = (h(&v.roots[p.size1 as usize]), h(&v.roots[p.size2 as usize]));
        verify_consistency(p.size1, p.size2, &proof, &r1, &r2).expect("verifies");
    }
}

/// Any change to a proof, a root, an index or a size makes verification fail, for every
/// leaf and every pair of sizes of trees up to 33 leaves.
#[test]
fn proofs_round_trip_and_any_change_is_rejected() {
    let leaves: Vec<Hash> = (0u16..33).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let flip = |mut x: Hash| {
        x[7] ^= 0x10;
        x
    };
    for n in 1..=leaves.len() {
        let r = root(&leaves[..n]);
        for i in 0..n {
            let idx = i as u64;
            let p = inclusion_proof(idx, &leaves[..n]).expect("proof");
            verify_inclusion(idx, n as u64, &leaves[i], &p, &r).expect("verifies");
            assert!(verify_inclusion(idx, n as u64, &flip(leaves[i]), &p, &r).is_err());
            assert!(verify_inclusion(idx, n as u64, &leaves[i], &p, &flip(r)).is_err());
            assert!(verify_inclusion(idx ^ 1, n as u64, &leaves[i], &p, &r).is_err() || n == 1);
            for k in 0..p.len() {
                let mut bad = p.clone();
                bad[k] = flip(bad[k]);
                assert!(verify_inclusion(idx, n as u64, &leaves[i], &bad, &r).is_err());
            }
        }
        for m in 1..n {
            let r1 = root(&leaves[..m]);
            let p = consistency_proof(m as u64, &leaves[..n]).expect("proof");
            verify_consistency(m as u64, n as u64, &p, &r1, &r).expect("verifies");
            assert!(verify_consistency(m as u64, n as u64, &p, &flip(r1), &r).is_err());
            assert!(verify_consistency(m as u64, n as u64, &p, &r1, &flip(r)).is_err());
            assert!(verify_consistency(m as u64, n as u64, &p[..p.len() - 1], &r1, &r).is_err());
            for k in 0..p.len() {
                let mut bad = p.clone();
                bad[k] = flip(bad[k]);
                assert!(verify_consistency(m as u64, n as u64, &bad, &r1, &r).is_err());
            }
        }
    }
}
