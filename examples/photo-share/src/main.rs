//! photo-share: a bucket of photos behind an HTTP service.

fn main() {}
