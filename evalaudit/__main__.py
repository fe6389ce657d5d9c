import sys

from evalaudit.cli import main, tune_allocator

tune_allocator()
sys.exit(main())
