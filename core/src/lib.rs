//! ggipc
