module netconn.probe/go

go 1.19
