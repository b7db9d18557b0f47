//! Fixtures shared by the layer-2 test crates (each includes this module).

use aws_sdk_ecr::types::{
    EnhancedImageScanFinding, PackageVulnerabilityDetails, VulnerablePackage,
};

/// An enhanced finding of libcurl 7.88.1, fixed in 8.5.0, no known exploit.
pub fn enhanced(id: &str, severity: &str) -> EnhancedImageScanFinding {
    EnhancedImageScanFinding::builder()
        .title(format!("{id} - libcurl"))
        .severity(severity)
        .score(7.5)
        .fix_available("YES")
        .exploit_available("NO")
        .package_vulnerability_details(
            PackageVulnerabilityDetails::builder()
                .vulnerability_id(id)
                .source_url(format!("https://nvd.nist.gov/vuln/detail/{id}"))
                .vulnerable_packages(
                    VulnerablePackage::builder()
                        .name("libcurl")
                        .version("7.88.1")
                        .fixed_in_version("8.5.0")
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The five findings the enhanced sample event counts (TOTAL): 1 critical,
/// 2 high, 1 medium, 1 untriaged.
pub fn all_five() -> Vec<EnhancedImageScanFinding> {
    vec![
        enhanced("CVE-2026-1000", "CRITICAL"),
        enhanced("CVE-2026-1001", "HIGH"),
        enhanced("CVE-2026-1002", "HIGH"),
        enhanced("CVE-2026-1003", "MEDIUM"),
        enhanced("CVE-2026-1004", "UNTRIAGED"),
    ]
}
