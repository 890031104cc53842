//! A Cloudflare account on this machine, to deploy a `provider = "cloudflare"` stage to with no
//! account: the checking v4 API server, with every uploaded Worker running in workerd.
//!
//! ```text
//! cargo run -p alchemy-cloudflare --features testing --example local-cloudflare -- target/local-cloudflare
//! ```
//!
//! It prints the `CLOUDFLARE_*` variables to deploy with, then each Worker's workers.dev URL
//! and the local address it answers on, whenever that changes. Enter (or end of input) stops
//! it and every Worker; what the Workers stored stays in the directory for the next run.

use std::collections::BTreeMap;
use std::time::Duration;

use alchemy_cloudflare::testing::LocalCloudflare;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/local-cloudflare".to_owned());
    let cloudflare = LocalCloudflare::start(&dir).await?;
    println!("A Cloudflare account on this machine, keeping its Workers' storage in {dir}.");
    println!("Deploy to it from another shell with:\n");
    for (name, value) in cloudflare.env() {
        println!("export {name}={value}");
    }
    println!("\nPress Enter to stop.\n");

    let mut stop = tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read_line(&mut String::new());
    });
    let mut shown = BTreeMap::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let running = cloudflare.running();
        if running == shown {
            continue;
        }
        let subdomain = cloudflare.api().cloud().subdomain.unwrap_or_default();
        for (script, url) in &running {
            if shown.get(script) != Some(url) {
                println!("{script}: https://{script}.{subdomain}.workers.dev -> {url}");
            }
        }
        for script in shown.keys().filter(|s| !running.contains_key(*s)) {
            println!("{script}: deleted");
        }
        shown = running;
    }
    let violations = cloudflare.api().violations();
    if !violations.is_empty() {
        eprintln!("requests outside the Cloudflare API documents:");
        for violation in &violations {
            eprintln!("  {violation}");
        }
    }
    Ok(())
}
