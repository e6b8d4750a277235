//! The statistics, pure functions of stored events and a clock: section 3's figures
//! (`figures`), section 3a's other questions (`activity`) and label KPIs (`labels`), section
//! 3b's response times (`response`).

pub(crate) mod activity;
pub(crate) mod figures;
pub(crate) mod labels;
pub(crate) mod response;
