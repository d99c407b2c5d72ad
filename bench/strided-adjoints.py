"""Strided-adjoint micro models for bench/strided-adjoints.ts: ResNet-18's stride-2 conv data gradients as
ConvTranspose (what src/core/grad/rules/spatial.ts emits) and as a polyphase rewrite (four stride-1 Convs and
DepthToSpace), and MaxPool's placement by ConvTranspose, Col2Im (opset 18) or a [K, 9, C, H, W] mask layout.
Random weights. Usage: /usr/bin/python3 bench/strided-adjoints.py OUT_DIR [K]"""
import sys, json, os
import numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
rng=np.random.default_rng(0)
OUT=sys.argv[1]; os.makedirs(OUT, exist_ok=True)
K=int(sys.argv[2]) if len(sys.argv)>2 else 5
def save(name, nodes, inits, gshape, oshape, opset=17):
    g=h.make_graph(nodes, name, [h.make_tensor_value_info('g',T.FLOAT,gshape)], [h.make_tensor_value_info('y',T.FLOAT,None)], [nh.from_array(v,k) for k,v in inits.items()])
    m=h.make_model(g, opset_imports=[h.make_opsetid('',opset)]); m.ir_version=8
    onnx.save(m, os.path.join(OUT, f'{name}.onnx'))
def phases(W,k,s,p):
    # W [Cout, Cin, k, k] forward weight; returns per phase q (0..s-1): list of taps t with (t - (q+p)) % s == 0
    return [[t for t in range(k) if (t-(q+p))%s==0] for q in range(s)]
cases={'stem':(64,3,7,2,3,112,224),'l2':(128,64,3,2,1,28,56),'l3':(256,128,3,2,1,14,28),'l4':(512,256,3,2,1,7,14),'ds2':(128,64,1,2,0,28,56)}
for name,(co,ci,k,s,p,Hg,H) in cases.items():
    W=rng.standard_normal((co,ci,k,k)).astype(np.float32)*0.05
    full=(Hg-1)*s+k; padEnd=full-p-H; op=max(0,-padEnd)
    save(f'{name}_ct',[h.make_node('ConvTranspose',['g','W'],['y'],strides=[s,s],pads=[p,p,max(0,padEnd),max(0,padEnd)],kernel_shape=[k,k],**({'output_padding':[op,op]} if op else {}))],{'W':W},[K,co,Hg,Hg],None)
    # phase decomposition: dx[s*m+q] = sum_j W[t_j]^T g[m + (q+p-t_j)/s]
    nodes=[];inits={};outs=[]
    M=H//s
    for qy in range(s):
        for qx in range(s):
            ty=phases(W,k,s,p)[qy]; tx=phases(W,k,s,p)[qx]
            if not ty or not tx:
                outs.append(None); continue
            # offsets c = (q+p-t)/s for each tap; conv out[m] = sum_j Wp[j] g[m - padL + j]
            cy=[(qy+p-t)//s for t in ty]; cx=[(qx+p-t)//s for t in tx]
            # sort taps by increasing offset c (j index order)
            oy=sorted(range(len(ty)),key=lambda i:cy[i]); ox=sorted(range(len(tx)),key=lambda i:cx[i])
            Wp=np.stack([np.stack([W[:,:,ty[i],tx[j]].T for j in ox],-1) for i in oy],-2)  # [ci, co, Jy, Jx]
            padLy=-min(cy); padLx=-min(cx); Jy=len(ty); Jx=len(tx)
            padRy=M-Hg-padLy+Jy-1; padRx=M-Hg-padLx+Jx-1
            assert min(padLy,padLx,padRy,padRx)>=0,(name,qy,qx,padLy,padRy)
            wn=f'W{qy}{qx}'; inits[wn]=np.ascontiguousarray(Wp)
            nodes.append(h.make_node('Conv',['g',wn],[f'p{qy}{qx}'],pads=[padLy,padLx,padRy,padRx],kernel_shape=[Jy,Jx]))
            outs.append(f'p{qy}{qx}')
    if all(outs):
        nodes.append(h.make_node('Concat',outs,['cat'],axis=1))
        nodes.append(h.make_node('DepthToSpace',['cat'],['y'],blocksize=s,mode='DCR'))
    else:
        inits['z']=np.zeros((1,),np.float32)
        # 1x1 stride 2: only phase (0,0); interleave with zeros
        nodes.append(h.make_node('Shape',[outs[0]],['sh']))
        nodes.append(h.make_node('ConstantOfShape',['sh'],['zz']))
        nodes.append(h.make_node('Concat',[outs[0],'zz','zz','zz'],['cat'],axis=1))
        nodes.append(h.make_node('DepthToSpace',['cat'],['y'],blocksize=s,mode='DCR'))
    save(f'{name}_ph',nodes,inits,[K,co,Hg,Hg],None)
# maxpool backward: current (mask mul + depthwise ConvTranspose) vs Col2Im
C,Ho,H=64,56,112
mask=(rng.integers(0,9,(1,C,1,Ho,Ho))==np.arange(9).reshape(1,1,9,1,1)).astype(np.float32)
eye=np.zeros((C*9,1,3,3),np.float32)
for c in range(C):
    for o in range(9): eye[c*9+o,0,o//3,o%3]=1
common=[h.make_node('Unsqueeze',['g','ax2'],['gu']),h.make_node('Mul',['gu','mask'],['m']),h.make_node('Reshape',['m','shp'],['st'])]
ini={'mask':mask,'ax2':np.array([2],np.int64),'shp':np.array([-1,C*9,Ho,Ho],np.int64)}
save('mp_ct',common+[h.make_node('ConvTranspose',['st','eye'],['y'],group=C,strides=[2,2],pads=[1,1,0,0],kernel_shape=[3,3],output_padding=[0,0])],{**ini,'eye':eye},[K,C,Ho,Ho],None)
ini2={**ini,'shp3':np.array([-1,C*9,Ho*Ho],np.int64),'img':np.array([H,H],np.int64),'blk':np.array([3,3],np.int64)}
save('mp_c2i',[common[0],common[1],h.make_node('Reshape',['m','shp3'],['st']),h.make_node('Col2Im',['st','img','blk'],['y'],strides=[2,2],pads=[1,1,0,0])],ini2,[K,C,Ho,Ho],None,opset=18)
# mask variant: g repeated by 1x1 grouped conv then same-shape Mul with [1, C*9, Ho, Ho]
rep=np.ones((C*9,1,1,1),np.float32)
save('mp_rep',[h.make_node('Conv',['g','rep'],['gr'],group=C,kernel_shape=[1,1]),h.make_node('Mul',['gr','mask2'],['st']),h.make_node('Col2Im',[ 'st3','img','blk'],['y'],strides=[2,2],pads=[1,1,0,0]),h.make_node('Reshape',['st','shp3'],['st3'])],
     {'rep':rep,'mask2':mask.reshape(1,C*9,Ho,Ho),'shp3':np.array([-1,C*9,Ho*Ho],np.int64),'img':np.array([H,H],np.int64),'blk':np.array([3,3],np.int64)},[K,C,Ho,Ho],None,opset=18)
maskT=np.ascontiguousarray(mask.reshape(1,C,9,Ho,Ho).transpose(0,2,1,3,4))
save('mp_t',[h.make_node('Unsqueeze',['g','ax1'],['gu']),h.make_node('Mul',['gu','maskT'],['m']),h.make_node('Transpose',['m'],['mt'],perm=[0,2,1,3,4]),h.make_node('Reshape',['mt','shp'],['st']),
  h.make_node('ConvTranspose',['st','eye'],['y'],group=C,strides=[2,2],pads=[1,1,0,0],kernel_shape=[3,3],output_padding=[0,0])],{'maskT':maskT,'ax1':np.array([1],np.int64),'shp':np.array([-1,C*9,Ho,Ho],np.int64),'eye':eye},[K,C,Ho,Ho],None)
# the Mul alone, both layouts
save('mp_mulA',[h.make_node('Unsqueeze',['g','ax2'],['gu']),h.make_node('Mul',['gu','mask'],['y'])],{'mask':mask,'ax2':np.array([2],np.int64)},[K,C,Ho,Ho],None)
save('mp_mulB',[h.make_node('Unsqueeze',['g','ax1'],['gu']),h.make_node('Mul',['gu','maskT'],['y'])],{'maskT':maskT,'ax1':np.array([1],np.int64)},[K,C,Ho,Ho],None)
json.dump({'stem':[K,64,112,112],'l2':[K,128,28,28],'l3':[K,256,14,14],'l4':[K,512,7,7],'ds2':[K,128,28,28],'mp':[K,64,56,56]}, open(os.path.join(OUT,'shapes.json'),'w'))
