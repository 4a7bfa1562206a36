# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'divergence_bnn_colin27_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours paper_code', '' index 0 using 1:4 with linespoints dt 2 title 'paper paper_code', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours ours', '' index 1 using 1:4 with linespoints dt 2 title 'paper ours', \
     'dice_vs_bits.dat' index 2 using 1:2:3 with yerrorlines lw 2 title 'ours h_one', '' index 2 using 1:4 with linespoints dt 2 title 'paper h_one', \
     'dice_vs_bits.dat' index 3 using 1:2:3 with yerrorlines lw 2 title 'ours all_binary', '' index 3 using 1:4 with linespoints dt 2 title 'paper all_binary'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_paper_code.png'
set title 'divergence_bnn_colin27_quick paper_code: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_paper_code.dat' index 0 using 1:2 with lines lw 2 title 'fp', \
     'curves_paper_code.dat' index 1 using 1:2 with lines lw 2 title 'bnn'
set output 'curves_ours.png'
set title 'divergence_bnn_colin27_quick ours: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_ours.dat' index 0 using 1:2 with lines lw 2 title 'bnn'
set output 'curves_h_one.png'
set title 'divergence_bnn_colin27_quick h_one: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_h_one.dat' index 0 using 1:2 with lines lw 2 title 'bnn'
set output 'curves_all_binary.png'
set title 'divergence_bnn_colin27_quick all_binary: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_all_binary.dat' index 0 using 1:2 with lines lw 2 title 'bnn'
