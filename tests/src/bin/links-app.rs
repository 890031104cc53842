//! The links example app, built inside the test package so tests can run it as a process.

fn main() -> std::process::ExitCode {
    links::app()
        .cloud(alchemy_aws::Aws)
        .cloud(alchemy_cloudflare::Cloudflare)
        .run()
}
