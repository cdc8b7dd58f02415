//! Property tests of the parsers that read untrusted input: Dockerfiles, layers, manifests
//! and indexes. Each runs 10,000 generated cases in the default suite (the libFuzzer targets
//! under `compose/fuzz` are for longer runs); none may panic, and an unpacked layer never
//! writes outside its directory.

use std::io::Write;

use berth_engine::build::dockerfile;
use berth_engine::image::manifest::Document;
use berth_engine::image::unpack::unpack;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() }
}

/// Dockerfile-shaped text: instructions, flags, continuations, heredocs, variables, noise.
fn dockerfile_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("FROM".to_string()),
        Just("RUN".to_string()),
        Just("COPY".to_string()),
        Just("ADD".to_string()),
        Just("ARG".to_string()),
        Just("ENV".to_string()),
        Just("LABEL".to_string()),
        Just("WORKDIR".to_string()),
        Just("USER".to_string()),
        Just("CMD".to_string()),
        Just("ENTRYPOINT".to_string()),
        Just("HEALTHCHECK".to_string()),
        Just("ONBUILD".to_string()),
        Just("SHELL".to_string()),
        Just("EXPOSE".to_string()),
        Just("AS".to_string()),
        Just("--from=0".to_string()),
        Just("--chown=1:1".to_string()),
        Just("--mount=type=cache,target=/c".to_string()),
        Just("<<EOF".to_string()),
        Just("EOF".to_string()),
        Just("\\".to_string()),
        Just("${A:-x}".to_string()),
        Just("$B".to_string()),
        Just("[\"sh\", \"-c\"]".to_string()),
        Just("#".to_string()),
        Just("# escape=`".to_string()),
        Just("`".to_string()),
        "[a-z0-9=:/.\"'\\[\\],{}$-]{0,12}",
        "\\PC{0,6}",
    ];
    prop::collection::vec((word, prop_oneof![Just(" "), Just("\n"), Just("\t"), Just("\\\n")]), 0..40)
        .prop_map(|parts| parts.into_iter().map(|(w, sep)| format!("{w}{sep}")).collect())
}

/// A tar stream of generated entries: hostile names, links and types, sizes that lie.
fn tar_stream() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just("a".to_string()),
        Just("a/b".to_string()),
        Just("../x".to_string()),
        Just("/abs".to_string()),
        Just("a/../../y".to_string()),
        Just(".wh.a".to_string()),
        Just("a/.wh..wh..opq".to_string()),
        Just("l".to_string()),
        Just("l/inner".to_string()),
        "[a-z./]{1,20}",
    ];
    let kind = prop::sample::select(vec![b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'L', b'K', b'x', b'g', b'Z']);
    let entry = (name.clone(), kind, name, prop::collection::vec(any::<u8>(), 0..64), 0u32..0o7777, any::<bool>());
    (prop::collection::vec(entry, 0..12), prop::collection::vec(any::<u8>(), 0..32)).prop_map(|(entries, tail)| {
        let mut out = Vec::new();
        for (name, kind, link, data, mode, lie) in entries {
            let mut h = tar::Header::new_gnu();
            let _ = h.set_path(&name);
            if name.len() < 100 {
                h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            }
            h.as_mut_bytes()[156] = kind;
            let _ = h.set_link_name(&link);
            h.set_mode(mode);
            h.set_size(if lie { data.len() as u64 * 3 + 1 } else { data.len() as u64 });
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(&data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&tail);
        out
    })
}

/// Manifest- and index-shaped JSON, with mistakes.
fn document_text() -> impl Strategy<Value = String> {
    let digest = prop_oneof![
        Just("sha256:0000000000000000000000000000000000000000000000000000000000000000".to_string()),
        Just("sha256:../../etc".to_string()),
        Just("sha512:00".to_string()),
        "[a-z0-9:]{0,70}",
    ];
    let descriptor =
        (digest, any::<i64>(), "[a-z./+]{0,40}", prop::option::of("(linux|windows)/(amd64|arm64|arm)(/v[5-8])?"))
            .prop_map(|(d, size, media, platform)| {
                let platform = platform
                    .map(|p| {
                        let parts: Vec<&str> = p.split('/').collect();
                        format!(
                            r#","platform":{{"os":"{}","architecture":"{}"}}"#,
                            parts[0],
                            parts.get(1).unwrap_or(&"")
                        )
                    })
                    .unwrap_or_default();
                format!(r#"{{"mediaType":"{media}","digest":"{d}","size":{size}{platform}}}"#)
            });
    (prop::collection::vec(descriptor, 0..4), any::<u8>(), "\\PC{0,8}").prop_map(|(descs, shape, noise)| {
        let list = descs.join(",");
        match shape % 4 {
            0 => format!(
                r#"{{"schemaVersion":2,"config":{},"layers":[{list}]}}"#,
                descs.first().cloned().unwrap_or_default()
            ),
            1 => format!(r#"{{"schemaVersion":2,"manifests":[{list}]}}"#),
            2 => format!(r#"{{"schemaVersion":{shape},"layers":[{list}{noise}"#),
            _ => noise,
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_dockerfile_parser_never_panics(text in dockerfile_text()) {
        let _ = dockerfile::parse(&text);
    }

    #[test]
    fn the_dockerfile_parser_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = dockerfile::parse(&text);
    }

    #[test]
    fn manifests_and_indexes_parse_without_panic(text in document_text(), media in prop::sample::select(vec![
        "", "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", "text/plain",
    ])) {
        let _ = Document::parse(text.as_bytes(), media);
    }

    #[test]
    fn a_layer_never_writes_outside_its_directory(stream in tar_stream(), gzip in any::<bool>()) {
        let scratch = tempfile::tempdir().expect("tmp");
        let dest = scratch.path().join("fs");
        std::fs::create_dir(&dest).expect("mkdir");
        let bytes = if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&stream).expect("gzip");
            gz.finish().expect("gzip")
        } else {
            stream
        };
        let _ = unpack(&bytes[..], &dest);
        let outside: Vec<_> = std::fs::read_dir(scratch.path()).expect("read").flatten().map(|e| e.file_name()).collect();
        prop_assert_eq!(outside, vec![std::ffi::OsString::from("fs")]);
    }
}
