//! `cargo run -p links -- plan|deploy|destroy|outputs|dev [--stage NAME] [--json] [--yes]`

fn main() -> std::process::ExitCode {
    links::app().run()
}
