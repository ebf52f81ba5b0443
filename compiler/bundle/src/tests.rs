//! Integrity tests: a bundle is either loaded exactly as written or refused whole.

use super::*;
use proptest::prelude::*;

pub(crate) fn sample() -> Bundle {
    Bundle {
        name: "sample".into(),
        description: Some("a test bundle".into()),
        source_hash: [7; 32],
        compiler: "phantomc 0.1.0".into(),
        mode: Mode::Sandbox,
        seccomp: vec![SeccompFilter {
            arch: Arch::X86_64,
            program: vec![6, 0, 0, 0, 0, 0, 0xff, 0x7f],
            worst_path: 1,
            cached_syscalls: 383,
            known_syscalls: 383,
            default_action: "allow".into(),
        }],
        mounts: vec![
            MountStep::Mkdir {
                target: "/usr".into(),
                mode: 0o755,
            },
            MountStep::Bind {
                source: "/usr".into(),
                target: "/usr".into(),
                writable: false,
                optional: false,
                mountpoint: Mountpoint::Created,
            },
            MountStep::Tmpfs {
                target: "/tmp".into(),
                size: Some(64 << 20),
                mode: 0o1777,
                mountpoint: Mountpoint::Created,
            },
        ],
        cgroup: CgroupLimits {
            memory_max: Some(1 << 30),
            swap_max: Some(0),
            cpu: None,
            pids_max: Some(256),
            io_weight: None,
        },
        rlimits: vec![Rlimit {
            resource: RlimitResource::Core,
            value: Some(0),
        }],
        network: Network::None,
        landlock: Landlock::default(),
        process: ProcessSpec {
            command: Some(vec!["/bin/true".into()]),
            cwd: "/".into(),
            env: [("PATH".to_string(), "/usr/bin".to_string())]
                .into_iter()
                .collect(),
            pass: vec![],
            hostname: "sandbox".into(),
            uid: 1000,
            gid: 1000,
            timeout_ms: None,
            no_new_privs: true,
            capabilities: vec![],
        },
        variables: vec![],
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn round_trip_and_reproducible() {
    let a = encode(&sample()).expect("encodes");
    let b = encode(&sample()).expect("encodes");
    assert_eq!(a, b, "same bundle, same bytes");
    assert_eq!(decode(&a, None), Ok(sample()));
    assert!(content_hash(&a).is_some_and(|h| h.len() == 64));
}

#[test]
fn every_truncation_is_refused() {
    let bytes = encode(&sample()).expect("encodes");
    for len in 0..bytes.len() {
        let err = decode(bytes.get(..len).unwrap_or_default(), None).expect_err("truncated");
        assert!(
            matches!(
                err,
                LoadError::Truncated { .. }
                    | LoadError::LengthMismatch { .. }
                    | LoadError::BadMagic
            ),
            "{len}: {err}"
        );
    }
}

#[test]
fn every_bit_flip_is_refused() {
    let bytes = encode(&sample()).expect("encodes");
    for i in 0..bytes.len() * 8 {
        let mut corrupt = bytes.clone();
        if let Some(b) = corrupt.get_mut(i / 8) {
            *b ^= 1 << (i % 8);
        }
        assert!(
            decode(&corrupt, None).is_err(),
            "flip of bit {i} was accepted"
        );
    }
}

#[test]
fn wrong_version_trailing_data_and_oversize_are_refused() {
    let bytes = encode(&sample()).expect("encodes");
    for other in [FORMAT_VERSION - 1, FORMAT_VERSION + 1] {
        let mut wrong = bytes.clone();
        if let Some(b) = wrong.get_mut(8..10) {
            b.copy_from_slice(&other.to_le_bytes());
        }
        assert_eq!(
            decode(&wrong, None),
            Err(LoadError::UnsupportedVersion { found: other })
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        decode(&trailing, None),
        Err(LoadError::LengthMismatch { .. })
    ));
    let huge = vec![0u8; MAX_BUNDLE_SIZE + 1];
    assert_eq!(
        decode(&huge, None),
        Err(LoadError::TooLarge {
            size: MAX_BUNDLE_SIZE + 1
        })
    );
    assert_eq!(
        decode(
            b"#!/bin/sh\necho hello, this is not a bundle at all, honestly\n",
            None
        ),
        Err(LoadError::BadMagic)
    );
}

#[test]
fn signatures() {
    let bytes = encode(&sample()).expect("encodes");
    let signed = sign(&bytes, &key(1)).expect("signs");
    assert!(is_signed(&signed) && !is_signed(&bytes));
    assert_eq!(decode(&signed, Some(&key(1).verifying_key())), Ok(sample()));
    assert_eq!(
        decode(&signed, None),
        Ok(sample()),
        "a signed bundle loads without a key"
    );
    assert_eq!(
        decode(&signed, Some(&key(2).verifying_key())),
        Err(LoadError::BadSignature)
    );
    assert_eq!(
        decode(&bytes, Some(&key(1).verifying_key())),
        Err(LoadError::Unsigned)
    );
    // Re-signing with another key after tampering cannot pass the expected key.
    let mut tampered = signed.clone();
    let last = tampered.len() - 1;
    if let Some(b) = tampered.get_mut(last) {
        *b ^= 1;
    }
    assert_eq!(
        decode(&tampered, Some(&key(1).verifying_key())),
        Err(LoadError::BadSignature)
    );
    let mut payload_flip = signed.clone();
    if let Some(b) = payload_flip.get_mut(HEADER_LEN + 3) {
        *b ^= 1;
    }
    assert!(decode(&payload_flip, Some(&key(1).verifying_key())).is_err());
}

#[test]
fn a_filter_program_is_encoded_as_the_sequence_of_its_bytes() {
    // `program` is (de)serialized as one byte string for speed; postcard writes that
    // exactly as it writes a `Vec<u8>` element by element, which format v2 is.
    #[derive(serde::Serialize)]
    struct ByteByByte {
        arch: Arch,
        program: Vec<u8>,
        worst_path: u32,
        cached_syscalls: u32,
        known_syscalls: u32,
        default_action: String,
    }
    let filter = sample().seccomp.remove(0);
    let plain = ByteByByte {
        arch: filter.arch,
        program: filter.program.clone(),
        worst_path: filter.worst_path,
        cached_syscalls: filter.cached_syscalls,
        known_syscalls: filter.known_syscalls,
        default_action: filter.default_action.clone(),
    };
    assert_eq!(
        postcard::to_allocvec(&filter).unwrap(),
        postcard::to_allocvec(&plain).unwrap()
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode(&bytes, None);
        let mut with_header = MAGIC.to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = decode(&with_header, None);
    }

    #[test]
    fn valid_header_with_garbage_payload_is_refused_cleanly(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        // A correct header and hash over garbage: only the decoder stands between it and use.
        let mut bytes = header(0, &payload).to_vec();
        bytes.extend_from_slice(&payload);
        let _ = decode(&bytes, None);
    }
}
