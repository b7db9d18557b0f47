"""ECR's registry listings as the local stack serves them: the pieces the
paging proxy (harness/paging_proxy.py) uses to answer DescribeImages and
DescribeRepositories itself, as the Amazon ECR API Reference describes them
(pages, tokens, filters, each image's scan status and findings summary),
and an in-memory registry (`SyntheticRegistry`) a test can hand the proxy
in place of thousands of images pushed to moto one by one.

Nothing here talks to the network; see PagingProxy.describe_images and
PagingProxy.describe_repositories for the wiring.
"""

import base64
import hashlib
import hmac
import json
import os
import time

# moto's default account (harness.local.ACCOUNT) and the stack's region: the
# registry of a request that names neither.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
# Amazon ECR API Reference, DescribeImages / DescribeRepositories: maxResults
# 1..1000, up to 100 results per page without it; imageIds and
# repositoryNames take at most 100 entries.
PAGE_DEFAULT = 100
PAGE_MAX = 1000
IDS_MAX = 100
TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")
# DescribeImagesFilter: "If not specified, only images with ACTIVE status
# are returned."
IMAGE_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING", "ANY")

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# ImageDetail.artifactMediaType: the media type of the image's config.
CONFIG_OF_MANIFEST = {
    DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
    OCI_MANIFEST: "application/vnd.oci.image.config.v1+json",
}
# Scan statuses only Amazon Inspector's enhanced scanning reports.
ENHANCED_STATUSES = {"ACTIVE", "PENDING", "SCAN_ELIGIBILITY_EXPIRED", "FINDINGS_UNAVAILABLE"}
SYNTHETIC_IMAGE_SIZE = 31_457_280


class _Omit:
    def __repr__(self):
        return "OMIT"


# In `PagingProxy.image_details[digest]`, a member set to OMIT is left out of
# the image's detail (None would be sent as null, which the model refuses).
OMIT = _Omit()


def error(code, message, status=400):
    """An ECR error answer (JSON 1.1): (status, body dict)."""
    return status, {"__type": code, "message": message}


class Tokens:
    """Opaque nextTokens that only this proxy can have issued: the fields,
    signed with a secret of the proxy's own. A token it did not issue (or
    issued for another listing) reads as None."""

    def __init__(self, secret=None):
        self.secret = secret or os.urandom(16)

    def issue(self, **fields):
        payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
        signature = hmac.new(self.secret, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(signature + payload).decode()

    def read(self, token):
        try:
            raw = base64.urlsafe_b64decode(token.encode())
        except Exception:  # noqa: BLE001 - any undecodable token is invalid
            return None
        signature, payload = raw[:12], raw[12:]
        if not hmac.compare_digest(signature, hmac.new(self.secret, payload, hashlib.sha256).digest()[:12]):
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return None


def paging_problem(request, ids_key):
    """ECR's refusal of a listing request's paging parameters, or None:
    maxResults out of 1..1000; maxResults or nextToken together with the
    ids (imageIds / repositoryNames: "This option cannot be used when you
    specify images with imageIds"); more than 100 ids."""
    max_results = request.get("maxResults")
    if max_results is not None and (isinstance(max_results, bool) or not isinstance(max_results, int)
                                    or not 1 <= max_results <= PAGE_MAX):
        return error("ValidationException", f"maxResults must be 1..{PAGE_MAX}")
    ids = request.get(ids_key)
    if ids is not None:
        if not isinstance(ids, list) or not 1 <= len(ids) <= IDS_MAX:
            return error("ValidationException", f"{ids_key} must have 1..{IDS_MAX} members")
        if max_results is not None or request.get("nextToken"):
            return error("InvalidParameterException",
                         f"maxResults and nextToken cannot be used when you specify {ids_key}")
    return None


def merged(detail, override):
    """The detail with the override's members in place of its own (OMIT
    removes a member)."""
    if not override:
        return detail
    out = dict(detail)
    for key, value in override.items():
        if value is OMIT:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def selected(detail, tag_status, image_status):
    """Whether DescribeImagesFilter (tagStatus, imageStatus) keeps the image."""
    tagged = bool(detail.get("imageTags"))
    if (tag_status == "TAGGED" and not tagged) or (tag_status == "UNTAGGED" and tagged):
        return False
    return image_status == "ANY" or detail.get("imageStatus", "ACTIVE") == image_status


def is_enhanced(answer):
    findings = answer.get("imageScanFindings") or {}
    return bool(findings.get("enhancedFindings")) or \
        (answer.get("imageScanStatus") or {}).get("status") in ENHANCED_STATUSES


def scan_members(answer, native_basic_scanning=False):
    """ImageDetail's `imageScanStatus` and `imageScanFindingsSummary` for an
    image whose DescribeImageScanFindings answer is `answer` (None: never
    scanned, neither member). The summary is that of the last completed scan
    (Amazon ECR API Reference, ImageScanFindingsSummary): there is none
    while no scan has completed. With `native_basic_scanning`, a basic scan
    shows neither member, as ECR's AWS-native basic scanning does
    (DescribeImages: "The new version of Amazon ECR Basic Scanning doesn't
    use the ImageDetail$imageScanFindingsSummary and
    ImageDetail$imageScanStatus attributes ... Use the
    DescribeImageScanFindings API instead.")."""
    if not answer or (native_basic_scanning and not is_enhanced(answer)):
        return {}
    members = {}
    status = answer.get("imageScanStatus")
    if status:
        members["imageScanStatus"] = {k: v for k, v in status.items() if k in ("status", "description")}
    findings = answer.get("imageScanFindings") or {}
    if findings.get("imageScanCompletedAt") is not None:
        summary = {"imageScanCompletedAt": findings["imageScanCompletedAt"]}
        if findings.get("vulnerabilitySourceUpdatedAt") is not None:
            summary["vulnerabilitySourceUpdatedAt"] = findings["vulnerabilitySourceUpdatedAt"]
        summary["findingSeverityCounts"] = dict(findings.get("findingSeverityCounts") or {})
        members["imageScanFindingsSummary"] = summary
    return members


def with_artifact_type(detail):
    """moto leaves out artifactMediaType; ECR names the config's media type."""
    if "artifactMediaType" not in detail and detail.get("imageManifestMediaType") in CONFIG_OF_MANIFEST:
        return {**detail, "artifactMediaType": CONFIG_OF_MANIFEST[detail["imageManifestMediaType"]]}
    return detail


def image_id_text(image_id):
    return (f"{{imageDigest:'{image_id.get('imageDigest') or 'null'}', "
            f"imageTag:'{image_id.get('imageTag') or 'null'}'}}")


def image_not_found(image_id, repository, registry):
    """ECR's (and moto's) ImageNotFoundException."""
    return error("ImageNotFoundException",
                 f"The image with imageId {image_id_text(image_id)} does not exist within the repository with "
                 f"name '{repository}' in the registry with id '{registry}'")


def matches(detail, image_id):
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if not digest and not tag:
        return False
    return (not digest or detail.get("imageDigest") == digest) and \
        (not tag or tag in (detail.get("imageTags") or ()))


class SyntheticRegistry:
    """A whole registry (one account, one region) held in memory: the
    repositories with their images and scans, served by the proxy without
    moto.

    `repositories`: an iterable of dicts, each a Repository of the ECR model
    (`repositoryName` required; the other members default as
    CreateRepository would set them) plus `images`: a list of ImageDetail
    dicts (`imageDigest` required; registryId, repositoryName,
    imageSizeInBytes, imagePushedAt (now), imageManifestMediaType and
    artifactMediaType default) each with an optional `scan`: the image's full
    DescribeImageScanFindings answer (harness.seed.scan_result), absent for an
    image never scanned. Scans are handed to the proxy's `overrides`, so the
    image's scan status and summary come from where its findings do."""

    def __init__(self, repositories, account=DEFAULT_ACCOUNT, region=DEFAULT_REGION):
        self.account, self.region = account, region
        now = int(time.time())
        self.repositories = {}
        self.images = {}
        self.scans = {}
        # Each repository's resource tags (ListTagsForResource): `tags`, a
        # list of {"Key", "Value"}, beside `images` in the repository dict.
        self.tags = {}
        for repository in repositories:
            repository = dict(repository)
            images = repository.pop("images", None) or []
            name = repository["repositoryName"]
            self.tags[name] = list(repository.pop("tags", None) or [])
            self.repositories[name] = {
                "repositoryArn": f"arn:aws:ecr:{region}:{account}:repository/{name}",
                "registryId": account,
                "repositoryName": name,
                "repositoryUri": f"{account}.dkr.ecr.{region}.amazonaws.com/{name}",
                "createdAt": now,
                "imageTagMutability": "MUTABLE",
                "imageScanningConfiguration": {"scanOnPush": False},
                "encryptionConfiguration": {"encryptionType": "AES256"},
                **repository,
            }
            details = []
            for image in images:
                image = dict(image)
                scan = image.pop("scan", None)
                detail = {"registryId": account, "repositoryName": name, "imageSizeInBytes": SYNTHETIC_IMAGE_SIZE,
                          "imagePushedAt": now, "imageManifestMediaType": DOCKER_MANIFEST, **image}
                if not detail.get("imageTags"):
                    detail.pop("imageTags", None)  # ECR omits imageTags for an untagged image
                details.append(with_artifact_type(detail))
                if scan is not None:
                    self.scans[detail["imageDigest"]] = scan
            self.images[name] = details

    @property
    def image_count(self):
        return sum(len(images) for images in self.images.values())

    def find(self, repository, image_id):
        """The image's detail, or None."""
        return next((d for d in self.images.get(repository, ()) if matches(d, image_id)), None)

    def describe(self, repository, image_ids=None):
        """(None, details) or (error answer, None): the repository's images,
        or those of `image_ids` in their order (each once)."""
        if image_ids is None:
            return None, list(self.images[repository])
        found, seen = [], set()
        for image_id in image_ids:
            detail = self.find(repository, image_id or {})
            if detail is None:
                return image_not_found(image_id or {}, repository, self.account), None
            if detail["imageDigest"] not in seen:
                seen.add(detail["imageDigest"])
                found.append(detail)
        return None, found
