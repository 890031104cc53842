//! `cargo run -p links -- plan|deploy|destroy|outputs|dev [--stage NAME] [--json] [--yes]`
//!
//! Which provider hosts a stage is configuration: `alchemy.toml` beside this crate declares
//! stage `aws` on AWS and stage `cloudflare` on Cloudflare; every other stage (and `dev`) is
//! local. Deployed to AWS, this same program is the Lambda function's bootstrap; on Cloudflare
//! the library itself, built to wasm, is the Worker.

fn main() -> std::process::ExitCode {
    links::app()
        .cloud(alchemy_aws::Aws)
        .cloud(alchemy_cloudflare::Cloudflare)
        .run()
}
