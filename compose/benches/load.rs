//! `cargo bench -p berth-compose`: loading a generated 1,000-service project (each service with
//! ports, volumes, environment, depends_on and a healthcheck), through every phase from reading
//! the file to the typed, checked `Project`. Goal: under 50 ms.

use std::collections::HashMap;
use std::fmt::Write;

use criterion::{Criterion, criterion_group, criterion_main};

// The `berth` binary allocates with mimalloc; measure the loader as the binary runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn generate(services: usize) -> String {
    let mut y = String::from("name: bench\nservices:\n");
    for i in 0..services {
        let _ = write!(
            y,
            "  svc{i}:\n    image: registry.local/team/svc{i}:${{TAG:-1.0}}\n    ports:\n      - \"{p}:80\"\n      \
             - \"127.0.0.1:{q}:9000/udp\"\n    volumes:\n      - data{v}:/var/lib/data\n      - ./conf/svc{i}:/etc/svc:ro\n    \
             environment:\n      SERVICE: svc{i}\n      LOG_LEVEL: ${{LOG_LEVEL:-info}}\n      PEERS: svc{a},svc{b}\n{deps}    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"http://localhost/health\"]\n      \
             interval: 10s\n      timeout: 2s\n      retries: 3\n    restart: unless-stopped\n    networks: [front, back]\n",
            p = 10000 + i,
            q = 20000 + i,
            v = i % 10,
            a = (i + 1) % services,
            b = (i + 2) % services,
            deps = if i == 0 {
                String::new()
            } else {
                format!("    depends_on:\n      svc{}:\n        condition: service_healthy\n", i - 1)
            },
        );
    }
    y.push_str("networks:\n  front: {}\n  back: {}\nvolumes:\n");
    for v in 0..10 {
        let _ = writeln!(y, "  data{v}: {{}}");
    }
    y
}

fn bench(c: &mut Criterion) {
    let dir = tempfile_dir();
    let file = dir.join("compose.yaml");
    std::fs::write(&file, generate(1000)).expect("write the project");
    let env: HashMap<String, String> = [("HOME".to_string(), "/root".to_string())].into();
    let mut opts = berth_compose::Options::new(dir.clone(), env);
    opts.files = vec![file];
    let loaded = berth_compose::load(&opts).expect("the generated project loads");
    assert_eq!(loaded.project.services.len(), 1000);
    c.bench_function("load 1000 services", |b| b.iter(|| berth_compose::load(&opts).expect("loads")));
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("berth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
