//! Errors are messages for the operator, printed as `error: ...`.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// The request itself is wrong (bad argument, record exists, ...): exit status 2.
    Usage(String),
    /// Carrying it out failed (wrangler, I/O, ...): exit status 1.
    Failed(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

pub fn failed(msg: impl Into<String>) -> Error {
    Error::Failed(msg.into())
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Failed(m) => f.write_str(m),
        }
    }
}
