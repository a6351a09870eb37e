module kerno.test/tlsgo

go 1.19
