from chatter.cli import main

raise SystemExit(main())
