; Hand-written seed covering the p0f v3 signature syntax.
classes = win,unix,other
[mtu]
label = Ethernet
sig   = 1500
[tcp:request]
label = s:unix:Seed:one
sys   = @unix
sig   = *:64:0:*:mss*10,7:mss,sok,ts,nop,ws:df,id+:0
sig   = 4:54+10:0:1460:mtu*2,0:mss,nop,ws::0
sig   = 6:64-:0:1380:%8,*:mss,?30,nop,eol+3:ecn,0+,flow,seq-,ack+,uptr+,urgf+,pushf+:+
label = g:win:Seed:two
sig   = *:128:4:*:*,*:nop,sack,ts:id-,ts1-,ts2+,opt+,exws,bad:*
[tcp:response]
label = s:other:Seed:three
sig   = *:255:0:536:4096,0:mss:ack-:0
[http:request]
sig   = *:Host,User-Agent:Accept:Seed
