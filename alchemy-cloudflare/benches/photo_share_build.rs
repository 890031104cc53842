//! photo-share (`examples/photo-share`) as a Worker: the size of its wasm module (raw and
//! gzipped, before and after wasm-bindgen) and the wall time of `build_worker`, clean (a fresh
//! wasm target directory, so `std` and every dependency are compiled) and incremental (again,
//! after touching one source file of the app). Figures, not assertions.
//!
//! ```sh
//! bash scripts/wasm-toolchain.sh
//! cargo bench -p alchemy-cloudflare --features build --bench photo_share_build
//! ```

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use alchemy_cloudflare::build::{build_worker, target_dir, BuildOptions, WorkerBundle};

/// Builds photo-share into `target`, timing it.
fn build(crate_dir: &Path, target: &Path) -> (WorkerBundle, Duration) {
    let options = BuildOptions {
        target_dir: Some(target.to_path_buf()),
        ..BuildOptions::default()
    };
    let started = Instant::now();
    let bundle = build_worker(crate_dir, &options)
        .unwrap_or_else(|error| panic!("building photo-share's Worker failed: {error}"));
    (bundle, started.elapsed())
}

fn main() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share");
    let scratch = target_dir().join("bench");
    std::fs::create_dir_all(&scratch).expect("the bench directory");
    let target = tempfile::tempdir_in(&scratch).expect("a fresh wasm target directory");

    let (bundle, clean) = build(&crate_dir, target.path());
    let touched = crate_dir.join("src/http.rs");
    std::fs::File::options()
        .append(true)
        .open(&touched)
        .and_then(|file| file.set_modified(SystemTime::now()))
        .unwrap_or_else(|error| panic!("touching {}: {error}", touched.display()));
    let (_, incremental) = build(&crate_dir, target.path());

    let size = bundle.size;
    let kib = |bytes: u64| bytes as f64 / 1024.0;
    println!("photo-share Worker: {size}");
    println!(
        "wasm as cargo linked it: {:.0} KiB; after wasm-bindgen: {:.0} KiB raw, {:.0} KiB gzipped \
         ({:.0}% of the 1 MiB gzipped budget); JS glue and entry: {:.0} KiB",
        kib(size.cargo_wasm),
        kib(size.wasm),
        kib(size.wasm_gzipped),
        100.0 * size.wasm_gzipped as f64 / (1024.0 * 1024.0),
        kib(size.js),
    );
    println!(
        "build_worker: clean (fresh target dir, std from source) {:.1} s; \
         incremental (touched src/http.rs) {:.1} s",
        clean.as_secs_f64(),
        incremental.as_secs_f64()
    );
}
