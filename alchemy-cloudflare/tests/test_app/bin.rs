//! The test Worker's app as a program: `deploy --stage NAME` with a stage of `alchemy.toml`
//! whose `provider = "cloudflare"` deploys it to Cloudflare (or to a `LocalCloudflare`, with
//! `CLOUDFLARE_API_BASE_URL` pointing there).

mod app;

fn main() -> std::process::ExitCode {
    app::app().cloud(alchemy_cloudflare::Cloudflare).run()
}
