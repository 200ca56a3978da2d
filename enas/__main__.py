import sys

from enas.cli.main import main

sys.exit(main())
