//! java: generated model and operation code for this language's binding.

use crate::model::Model;
use crate::Output;

pub fn emit(_m: &Model) -> Vec<Output> {
    Vec::new()
}
