//! photo-archive, version 2: the same app with a changed response, so a different bootstrap.

fn main() -> std::process::ExitCode {
    alchemy_tests::archive::app::<2>().run()
}
