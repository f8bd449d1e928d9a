from edgeprompt.cli import main

raise SystemExit(main())
