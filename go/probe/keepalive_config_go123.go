//go:build go1.23

package main

import (
	"fmt"
	"net"
	"syscall"
	"time"
)

func init() {
	register("keepalive-config", keepAliveConfig)
}

// keepAliveConfig sets the probe row's three configs with Go 1.23's
// SetKeepAliveConfig and reads back what the kernel holds after each.
func keepAliveConfig(string) (result, error) {
	p, err := newPair()
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	type state struct{ on, idle, interval, count int }
	set := func(c net.KeepAliveConfig) (state, error) {
		if err := p.Client.SetKeepAliveConfig(c); err != nil {
			return state{}, err
		}
		return state{
			sockopt(p.Client, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE),
			sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE),
			sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL),
			sockopt(p.Client, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT),
		}, nil
	}
	full, err := set(net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second,
		Interval: 2 * time.Second, Count: 3})
	if err != nil {
		return result{}, err
	}
	mixed, err := set(net.KeepAliveConfig{Enable: true, Idle: -1, Interval: 0, Count: -1})
	if err != nil {
		return result{}, err
	}
	zero, err := set(net.KeepAliveConfig{})
	if err != nil {
		return result{}, err
	}
	text := func(s state) string {
		return fmt.Sprintf("%s %d s / %d s / %d", onOff(s.on), s.idle, s.interval, s.count)
	}
	return result{
		Text: fmt.Sprintf("{5 s, 2 s, 3} → %s; {-1, 0, -1} → %s; {} → %s",
			text(full), text(mixed), text(zero)),
		Numbers: map[string]float64{
			"enabled": float64(full.on), "idle": float64(full.idle * 1000),
			"interval": float64(full.interval * 1000), "count": float64(full.count),
			"mixedIdle": float64(mixed.idle * 1000), "mixedInterval": float64(mixed.interval * 1000),
			"mixedCount": float64(mixed.count), "zeroEnabled": float64(zero.on),
			"zeroIdle": float64(zero.idle * 1000), "zeroCount": float64(zero.count),
		},
		Facts: map[string]string{"api": "KeepAliveConfig"},
	}, nil
}

// onOff names a flag read from the kernel.
func onOff(v int) string {
	if v == 1 {
		return "on"
	}
	return "off"
}
