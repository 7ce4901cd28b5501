"""The four documented connection-troubleshoot checks, replayed offline, with what each teaches."""

from __future__ import annotations

import nwlab

CHECKS = [
    ("VM to VM through two appliances; an outbound NSG rule blocks port 80",
     "Database0", 80),
    ("VM to a public IP; a user-defined route sends it to None", "13.107.21.200", 80),
    ("VM to a website: latency and probes", "https://bing.com", None),
    ("VM to a storage endpoint", "https://build2017nwdiag360.blob.core.windows.net/", None),
]


def main() -> None:
    nw = nwlab.replay()
    for title, destination, port in CHECKS:
        result = nw.check("MultiTierApp0", destination, port, resource_group="ContosoRG")
        print(f"== {title}")
        print(f"   nw.check('MultiTierApp0', {destination!r}, {port}, resource_group='ContosoRG')")
        print(result)
        for finding in result.explain():
            print(f"   -> {finding.title}")
            if finding.fix:
                print(f"      fix: {finding.fix}")
        print()


if __name__ == "__main__":
    main()
