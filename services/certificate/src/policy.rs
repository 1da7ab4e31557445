//! Which roles may call which certificate method (enforced by the auth layer before any handler
//! runs; the logic then checks the certificate's place in the tree). Verification, the
//! teachers' search, the keys and the log need no token.

use tica_auth::{MethodPolicy, Role};

const OFFICES: &[Role] = &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice];
const READERS: &[Role] = &[
    Role::Teacher,
    Role::SchoolAdmin,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
];
const ARCHIVERS: &[Role] = &[
    Role::SchoolAdmin,
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
];

/// The certificate service's access policy.
pub fn policy() -> MethodPolicy {
    MethodPolicy::new(crate::service::SERVICE_NAME)
        .allow("StartIssuanceRun", OFFICES)
        .allow("GetIssuanceRun", OFFICES)
        .allow("ListIssuanceRuns", OFFICES)
        .allow("WatchIssuanceRun", OFFICES)
        .allow("ListParkedResults", OFFICES)
        .allow("GetCertificate", READERS)
        .allow("ListCertificates", READERS)
        .public("SearchCertificates")
        .allow("RevokeCertificate", OFFICES)
        .allow("DownloadCertificatePdf", READERS)
        .allow("GetCertificateCredential", READERS)
        .allow("CreateCertificateArchive", ARCHIVERS)
        .allow("GetCertificateArchive", ARCHIVERS)
        .allow("WatchCertificateArchive", ARCHIVERS)
        .allow("DownloadCertificateArchive", ARCHIVERS)
        .public("Verify")
        .public("BatchVerify")
        .public("ListSigningKeys")
        .public("GetLogCheckpoint")
        .public("GetInclusionProof")
        .public("GetConsistencyProof")
        .public("GetRevocationList")
        .allow("ListAuditEvents", OFFICES)
}
