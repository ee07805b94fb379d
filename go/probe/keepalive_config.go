//go:build !go1.23

package main

import (
	"fmt"
	"syscall"
	"time"
)

func init() {
	register("keepalive-config", keepAliveConfig)
}

// keepAliveConfig, before Go 1.23: Go has no KeepAliveConfig (1.23 added
// it), so this measures what Go offers instead, SetKeepAlive(true) and
// SetKeepAlivePeriod(5 s), which sets the idle time and the interval and
// leaves the probe count to the OS. facts.api says which API was measured.
func keepAliveConfig(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	if err := p.Client.SetKeepAlive(true); err != nil {
		return result{}, err
	}
	if err := p.Client.SetKeepAlivePeriod(5 * time.Second); err != nil {
		return result{}, err
	}
	on := sockopt(p.Client, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	idle := sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
	interval := sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
	count := sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
	return result{
		Text: fmt.Sprintf("no KeepAliveConfig before Go 1.23; SetKeepAlive(true), "+
			"SetKeepAlivePeriod(5 s) → %s %d s / %d s / %d (count: the OS's)",
			onOff(on), idle, interval, count),
		Numbers: map[string]float64{"enabled": float64(on), "idle": float64(idle * 1000),
			"interval": float64(interval * 1000), "count": float64(count)},
		Facts: map[string]string{"api": "SetKeepAlivePeriod"},
	}, nil
}

// onOff names a flag read from the kernel.
func onOff(v int) string {
	if v == 1 {
		return "on"
	}
	return "off"
}
