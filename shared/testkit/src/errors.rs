//! Reading a refusal as an agency's program does: the reason its `google.rpc.ErrorInfo` names
//! (`proto/tica/common/v1/errors.proto`).

use tonic_types::StatusExt;

/// The reason `status`'s ErrorInfo names, asserting its domain (`tica`), that the reason is in
/// the table, and that it travels with the code the table gives it.
#[track_caller]
pub fn reason_of(status: &tonic::Status) -> String {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo on {status:?}"));
    assert_eq!(info.domain, "tica", "{status:?}");
    let reason = tica_server::errors::reason_named(&info.reason)
        .unwrap_or_else(|| panic!("{} is not in errors.proto", info.reason));
    assert_eq!(
        tica_server::errors::reason_code(reason),
        Some(status.code()),
        "{status:?}"
    );
    info.reason
}
