; mimamori supplement to p0f.fp, in the p0f v3 format, read after it.
;
; Windows 2000 and XP size their receive window as a whole number of
; segments of their own MSS (1460 on Ethernet: 8760, 17520, 64240...) and
; send no window-scale option by default. p0f 3.09b lists only 16384 and
; 65535 for XP, so these SYNs fall to its generic "NT kernel" label. Vista
; and later use window auto-tuning and always send window scaling, so this
; layout without "ws" and with a multiple of 1460 points at NT 5.x. These are
; our own observations, not taken from p0f.

[tcp:request]

label = s:win:Windows:NT 5.x (window multiple of 1460)
sig   = 4:128:0:*:%1460,0:mss,nop,nop,sok:df,id+:0

; The same stacks answering a SYN (SYN+ACK): XP echoes window scaling with
; factor 0 and a zero timestamp when the client offered them, like p0f's XP
; response signatures with window 65535.

[tcp:response]

label = s:win:Windows:NT 5.x (window multiple of 1460)
sig   = 4:128:0:*:%1460,0:mss:df,id+:0
sig   = 4:128:0:*:%1460,0:mss,nop,nop,sok:df,id+:0
sig   = 4:128:0:*:%1460,0:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = 4:128:0:*:%1460,0:mss,nop,ws,nop,nop,ts,nop,nop,sok:df,id+,ts1-:0
