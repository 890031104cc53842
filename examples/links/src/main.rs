//! `cargo run -p links -- plan|deploy|destroy|outputs|dev [--stage NAME] [--json] [--yes]`
//!
//! Which provider hosts a stage is configuration: `alchemy.toml` beside this crate declares
//! stage `aws` on AWS; every other stage (and `dev`) is local. Deployed to AWS, this same
//! program is the Lambda function's bootstrap.

fn main() -> std::process::ExitCode {
    links::app().cloud(alchemy_aws::Aws).run()
}
