import sys

from evalaudit.cli import main

sys.exit(main())
