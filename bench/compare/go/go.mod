module netconn.example/bench/compare/go

go 1.19
