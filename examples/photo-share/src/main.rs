//! `cargo run -p photo-share -- plan|deploy|destroy|outputs [--stage NAME] [--json] [--yes]`

fn main() -> std::process::ExitCode {
    photo_share::app().run()
}
