//! photo-archive, version 1 (see `alchemy_tests::archive`).

fn main() -> std::process::ExitCode {
    alchemy_tests::archive::app::<1>().run()
}
