//! `mv SOURCE DEST`: renames a file or directory within its scheme
//! (`frename`); across schemes (`EXDEV`) it copies the file and removes the
//! source.

use rt::abi::syscall::{EXDEV, O_RDONLY};
use rt::fs::File;

use crate::report::{self, FAILED, OK};
use crate::tools::cp;

pub fn main(args: &[&str]) -> u8 {
    let [source, dest] = args else {
        return report::usage("mv", "needs a source and a destination");
    };
    let to = cp::target(source, dest);
    let file = match File::open_with(&rt::fs::resolve(source), O_RDONLY) {
        Ok(file) => file,
        Err(err) => {
            report::error("mv", source, err);
            return FAILED;
        }
    };
    match rt::sys::frename(file.fd(), &to) {
        Ok(()) => OK,
        Err(err) if err.errno == EXDEV => {
            drop(file);
            if !cp::copy_file("mv", source, &to, dest) {
                return FAILED;
            }
            match rt::fs::remove_file(&rt::fs::resolve(source)) {
                Ok(()) => OK,
                Err(err) => {
                    report::error("mv", source, err);
                    FAILED
                }
            }
        }
        Err(err) => {
            report::error("mv", dest, err);
            FAILED
        }
    }
}
