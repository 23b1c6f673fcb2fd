from ep_ops.cli import main

raise SystemExit(main())
