"""How long seeding and reading a big registry through the local stack's
proxy takes: a boto3 client lists every repository (DescribeRepositories)
and every image of each (DescribeImages, with its scan summary), as a weekly
digest of the registry would.

    .venv/bin/python -m harness.listing_bench                 # 2,000 x 10 images, synthetic
    .venv/bin/python -m harness.listing_bench --moto 200      # + 200 images pushed to moto
    .venv/bin/python -m harness.listing_bench --check-every 50

The stack starts as the e2e tests start it (harness.local.LocalStack: moto,
the paging proxy, the Runtime API emulators), without the function: only
the proxy is measured. FUNCTION_BINARY must name an existing binary (it is
not run).
"""

import argparse
import time

from .local import ROOT, LocalStack, built_binary
from .seed import basic_finding, enhanced_finding, ensure_repository, push_image, store_scan, synthetic_fleet

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")


def fleet_scan(r, i):
    """A mix: one image in ten never scanned, one in ten on enhanced
    scanning, the rest basic scans with 0..4 findings."""
    if i % 10 == 9:
        return None
    if i % 10 == 8:
        return {"status": "ACTIVE", "enhanced": [enhanced_finding(f"CVE-2026-{r:04d}{i}", "HIGH")]}
    return {"basic": [basic_finding(f"CVE-2026-{r:04d}{i}{k}", SEVERITIES[(r + i + k) % 5]) for k in range(i % 5)]}


def read_registry(ecr, repositories_prefix=None, page_size=None):
    """Every repository and image of the registry: (repositories, images,
    severity totals, DescribeImages calls)."""
    names, totals, images, calls = [], {}, 0, 0
    for page in ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1000}):
        names += [r["repositoryName"] for r in page["repositories"]]
    if repositories_prefix:
        names = [n for n in names if n.startswith(repositories_prefix)]
    config = {"PageSize": page_size} if page_size else {}
    for name in names:
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=name, PaginationConfig=config):
            calls += 1
            for detail in page["imageDetails"]:
                images += 1
                for severity, n in (detail.get("imageScanFindingsSummary") or {}).get("findingSeverityCounts", {}).items():
                    totals[severity] = totals.get(severity, 0) + n
    return len(names), images, totals, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repositories", type=int, default=2000)
    parser.add_argument("--images", type=int, default=10, help="images per repository")
    parser.add_argument("--check-every", type=int, default=None, help="proxy.check_every (default: the proxy's)")
    parser.add_argument("--moto", type=int, default=0, help="also push this many images to moto and read them")
    args = parser.parse_args()

    with LocalStack(built_binary(), ROOT / ".local" / "listing-bench-logs") as stack:
        if args.check_every is not None:
            stack.proxy.check_every = args.check_every
        ecr = stack.client("ecr")

        started = time.perf_counter()
        fleet = synthetic_fleet(args.repositories, args.images, scan=fleet_scan)
        built = time.perf_counter()
        registry = stack.proxy.synthetic_registry(fleet)
        handed = time.perf_counter()
        print(f"seed synthetic: {registry.image_count} images in {len(registry.repositories)} repositories: "
              f"built {built - started:.2f} s, handed to the proxy {handed - built:.2f} s")

        started = time.perf_counter()
        repositories, images, totals, calls = read_registry(ecr, "fleet/")
        elapsed = time.perf_counter() - started
        proxy = stack.proxy
        print(f"read synthetic: {images} images in {repositories} repositories, {calls} DescribeImages pages: "
              f"{elapsed:.2f} s ({elapsed / max(calls, 1) * 1000:.2f} ms a page); "
              f"pages checked {proxy.listing_pages_checked}, unchecked {proxy.listing_pages_unchecked}, "
              f"violations {len(proxy.contract_violations)}; counts {totals}")

        if args.moto:
            started = time.perf_counter()
            per_repository = 10
            for n in range(args.moto):
                name = f"bench/moto-{n // per_repository:04d}"
                if n % per_repository == 0:
                    ensure_repository(ecr, name)
                digest = push_image(ecr, name, f"v{n % per_repository}", seed=f"bench-{n}")
                if n % 10 != 9:
                    ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": digest})
                    store_scan(stack.moto_url, name, digest, **(fleet_scan(n // per_repository, n % per_repository)
                                                                or {"basic": []}))
            seeded = time.perf_counter() - started
            started = time.perf_counter()
            repositories, images, totals, calls = read_registry(ecr, "bench/")
            elapsed = time.perf_counter() - started
            print(f"seed moto: {args.moto} images (put_image + start_image_scan + stored findings): {seeded:.2f} s "
                  f"({seeded / args.moto * 1000:.1f} ms an image; 20,000 would take ~{seeded / args.moto * 20000 / 60:.0f} min)")
            print(f"read moto: {images} images in {repositories} repositories, {calls} pages: {elapsed:.2f} s "
                  f"({elapsed / max(images, 1) * 1000:.1f} ms an image); violations {len(proxy.contract_violations)}")


if __name__ == "__main__":
    main()
