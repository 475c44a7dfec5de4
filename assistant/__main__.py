import sys

from policy_assistant.cli import main

sys.exit(main())
