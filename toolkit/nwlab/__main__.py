import sys

from nwlab.cli import main

sys.exit(main())
