//! `cargo run -p photo-share -- plan|deploy|destroy|outputs|dev [--stage NAME] [--json] [--yes]`
//!
//! Which provider hosts a stage is configuration: `alchemy.toml` beside this crate declares
//! stage `aws` on AWS; every other stage (and `dev`) is local. Deployed to AWS, this same
//! program is the Lambda function's bootstrap, and `alchemy_aws::Aws` serves the `api`
//! service there.

fn main() -> std::process::ExitCode {
    photo_share::app().cloud(alchemy_aws::Aws).run()
}
