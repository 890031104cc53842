//! S3 over plain HTTP, for Workers: [`sigv4`] signs requests in plain Rust.

pub mod sigv4;
